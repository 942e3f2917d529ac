"""The assistant's topic answers: their editable sources (content/), the link map, the
"last reviewed" dates, the generator of the domain responses, and the currency report."""
