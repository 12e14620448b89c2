"""What users can do, shared by the HTTP API, the admin UI and the CLI.

Each action checks the principal's role and organization, applies the lifecycle by a
conditional update, writes the audit log, and raises an ``ActionError`` in words.
"""
