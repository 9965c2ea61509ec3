"""The demo: a deterministic, realistic synthetic stream of member events, and a feed that publishes it.

The stream (``stream.generate``) runs over about eight weeks of event time:
profiles first, then days of orders (with real baskets and coupons), refunds
of earlier orders, reviews, logins and complaints, shaped by time of day and
weekday.  A few members are heavy spenders who climb SILVER -> GOLD ->
DIAMOND within a month, a couple are invited to BLACK_GOLD, about 1% of the
events are deliberately bad, a subset of members gets weekly business-line
scores and members with points redeem some.  The same seed gives the same
stream, ids included.

The modules, each importable on its own (nothing is re-exported here):

- ``personas``: who the members are and how often each does what
- ``schedule``: when things happen (the days, the hours' traffic, ``Slot``)
- ``formats``: how values are written (money, times, ids, the bytes on the wire)
- ``shop``: the catalogue and the baskets members buy
- ``scores``: weekly business-line score snapshots, in the data API's shape
- ``redemptions``: coupons, merchandise and gifts bought with the points a member surely has
- ``bad_events``: the deliberately bad events that end as dead letters
- ``stream``: the generator that puts them together in event-time order
- ``feed``: pacing the stream and publishing it to the broker
"""
