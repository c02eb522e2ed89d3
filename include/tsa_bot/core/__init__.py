"""The shared vocabulary: settings, errors, markets and tickers, TSA publication times, scores, records."""
