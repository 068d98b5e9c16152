"""Settlement admin (imported by ``revenue/admin.py``)."""
