"""Whitespace tokenizer that also folds accents and case in the token text.

People type "tyottomyys" for "työttömyys", "arbetsloshetskassa" for
"arbetslöshetskassa" and Vietnamese without tone marks. Folding every token
(training and prediction alike) makes both spellings the same feature; the
message text itself is untouched. Chinese, which has no spaces, is split into
single characters so that character n-grams see word-like units.
"""

from __future__ import annotations

from typing import Any

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.tokenizers.tokenizer import Token
from rasa.nlu.tokenizers.whitespace_tokenizer import WhitespaceTokenizer
from rasa.shared.nlu.training_data.message import Message

from bot.language.text import fold


def _is_han(ch: str) -> bool:
    return "\u3400" <= ch <= "\u9fff"


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER, is_trainable=False)
class FoldingTokenizer(WhitespaceTokenizer):
    @staticmethod
    def not_supported_languages() -> list[str] | None:
        return None

    def tokenize(self, message: Message, attribute: str) -> list[Token]:
        tokens: list[Token] = []
        for token in super().tokenize(message, attribute):
            if any(_is_han(ch) for ch in token.text):
                tokens.extend(self._split_han(token))
            else:
                tokens.append(Token(fold(token.text), token.start, token.end, data=token.data))
        return tokens

    @staticmethod
    def _split_han(token: Token) -> list[Token]:
        parts: list[Token] = []
        run_start = None
        for offset, ch in enumerate(token.text):
            if _is_han(ch):
                if run_start is not None:
                    parts.append(Token(fold(token.text[run_start:offset]), token.start + run_start))
                    run_start = None
                parts.append(Token(ch, token.start + offset))
            elif run_start is None:
                run_start = offset
        if run_start is not None:
            parts.append(Token(fold(token.text[run_start:]), token.start + run_start))
        return parts

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return WhitespaceTokenizer.get_default_config()
