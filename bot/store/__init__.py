"""The conversation store: every conversation and message, through SQLAlchemy."""
