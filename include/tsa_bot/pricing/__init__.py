"""Pure pricing math: Kalshi fees, monotone strike probabilities, quotes, expected value and Kelly sizing."""
