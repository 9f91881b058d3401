"""scalelab: the tested library behind *Scaling Casebook*, a book of reproducible LLM scaling case studies.

Importing the package does no work; import the module you need (``scalelab.train``, ``scalelab.fit``, …).
"""

__version__ = "0.1.0"
