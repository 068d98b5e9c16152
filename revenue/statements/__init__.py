"""Settlement statements (结算单): what partners are paid, in a form they can get, read, check and dispute.

* ``documents`` — the statement as a plain data object and its pure PDF rendering (``core.pdf``);
* ``selectors`` — statement data from a settlement, and every partner-scoped read;
* ``services`` — statement generation (stored immutably, regenerated identically),
  verification, download records, webhooks and partner notifications (e-mail);
* ``tasks`` — thin Celery wrappers (generation per settlement, e-mails, webhook deliveries);
* ``admin`` — statements, downloads, webhooks and events for bank staff.

Partners reach all of it through the ``portal`` app (web and API).
"""
