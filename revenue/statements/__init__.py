"""Settlement statements (结算单): what partners are paid, in a form they can get, read, check and dispute.

* ``documents`` — the statement as a plain data object and its pure PDF rendering (``core.pdf``);
* ``detail`` — the transaction-level CSV/XLSX of a statement, streamed, formula-safe;
* ``selectors`` — statement data from a settlement, and every partner-scoped read;
* ``services`` — statement generation (stored immutably, regenerated identically),
  download events, API tokens, webhooks and notifications;
* ``tasks`` — thin Celery wrappers (generation per settlement, e-mails, webhook deliveries);
* ``views``/``urls`` — the partner portal (``/portal/``) and the public verification page (``/verify/``);
* ``apis``/``api_urls`` — the partner API (``/api/v1/partner/…``);
* ``admin`` — statements for bank staff.

Models belong to the ``revenue`` app (imported at the end of ``revenue/models.py``).
"""
