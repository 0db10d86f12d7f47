"""The data contracts every layer shares: the bronze envelope, table schemas and keys (silver,
gold, served), measure lists and reference tables. Declared once here; this package imports no
other package of the project except ``pipelines.core``."""
