// The metric sources are TideMetrics'; what imports the scaler sees them too.
@_exported import TideMetrics
