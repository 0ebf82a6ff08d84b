"""RunRecord -> Results: KPIs and tables (pandas starts here), money, service levels."""
