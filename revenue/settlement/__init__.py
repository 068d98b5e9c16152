"""Settlement (结算): turning attributed bank revenue into each partner's share, per period.

Models, services, selectors, tasks, commands and admin of the settlement runs
and the settlement lifecycle. See docs/settlement.md for a close from the beat
schedule to frozen settlements.
"""
