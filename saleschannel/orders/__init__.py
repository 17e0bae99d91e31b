"""Orders of a channel's customers: the source of the detailed views' `orders_info`."""
