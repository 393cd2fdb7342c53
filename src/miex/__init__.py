"""miex: micro-expression synthesis (MiE-X) and recognition toolkit."""

__version__ = "0.1.0"
