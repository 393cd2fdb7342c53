"""The ``miex`` command line. Each verb lives in its own module with a ``register(subparsers)``."""
