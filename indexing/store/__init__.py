"""The record store: records, labels and their times; statistics over them."""
