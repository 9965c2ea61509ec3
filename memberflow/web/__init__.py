"""The workers' HTTP views: member lookup, entitlements, badges, redemptions, ledger history, metrics."""
