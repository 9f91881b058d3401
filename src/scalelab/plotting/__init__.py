"""Figures of the book: one module per chapter, one function per figure."""
