"""The isolation service: isolation orders, daily follow-up, test results, and the
policies that connect them."""
