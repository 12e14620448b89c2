"""Intake of bounces and complaints: reports read from the bounce mailbox, and the
provider webhooks' payloads checked and read. Each turns what arrives into
``domain.feedback.FeedbackEvent``s for ``actions.feedback``."""
