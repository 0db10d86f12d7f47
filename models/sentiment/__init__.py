"""News sentiment: FinBERT (``transformers``) or, without weights, the Loughran-McDonald
finance lexicon; article scores aggregated per asset and day into ``gold/sentiment_daily``."""
