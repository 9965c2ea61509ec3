"""The workers' HTTP views: member lookup, badges, redemptions, ledger history, metrics."""
