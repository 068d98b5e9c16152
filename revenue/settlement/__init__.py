"""Settlement (结算): turning attributed bank revenue into each partner's share, per period.

Models, services, selectors, tasks and admin of the settlement runs and the
settlement lifecycle live in this package; its models belong to the
``revenue`` app (imported at the end of ``revenue/models.py``).
"""
