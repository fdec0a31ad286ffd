"""Helpers every app shares: encryption of secrets at rest, identifiers, and the language
and locale formatting of what people read. The lowest layer: it imports no app."""
