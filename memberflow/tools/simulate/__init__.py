"""What-if simulation: recorded history through the engine once per rule set, and a report of the difference.

``memberflow simulate`` (``run.simulate``) replays the input history
(a JSONL file, or the input topics read by time: ``history``) through the
offline engine (``memberflow.tools.offline``, the replay's code path) under the
base and the candidate rules, with the periodic evaluation at the rules'
schedule in event time (``schedule``).  Outputs are summed as they come
(``figures``), so memory grows with members, not events; ``--processes``
splits members into shards (``shards``).  ``report`` writes the JSON figures
and the HTML page with its SVG charts (``charts``).
"""
