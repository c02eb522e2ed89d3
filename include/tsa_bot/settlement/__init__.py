"""After a week is complete: score its forecasts and settle the paper book on first-published numbers."""
