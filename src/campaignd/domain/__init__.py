"""Pure rules of campaignd: no I/O, no framework."""
