"""Personal data in free text: one masking function for everything that leaves a conversation."""

from bot.privacy.masking import TOKENS, mask

__all__ = ["TOKENS", "mask"]
