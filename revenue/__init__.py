"""The money side: three apps and the pure share function they share.

* ``revenue.ledger`` — the product catalogue, revenue-share agreements, source systems, the
  append-only transaction ledger and its ingestion;
* ``revenue.settlement`` — periods, runs (nightly accrual, month-end close), settlements, their
  lines and disputes;
* ``revenue.statements`` — issued statements, verification, partner events, e-mail and webhooks;
* ``revenue.calculations`` — a partner's share of aggregated figures under a rule: pure, no ORM.
"""
