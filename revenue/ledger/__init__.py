"""The revenue ledger (归属交易): products, revenue-share agreements, source systems and attributed transactions.

Transactions come in through one ingestion engine (``ingestion``), whatever
the way in: the REST batch, the admin import or the large-file command.
"""
