"""campaignd: scheduled email campaigns, on time, once per person, with a frequency cooldown."""

__version__ = "0.1.0"
