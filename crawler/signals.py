"""What the crawler's parts tell each other, as Scrapy signals: the spider announces events of a poll;
whoever cares subscribes. The spider knows nothing of what listens."""

POLL_FINISHED = object()  # a poll has no request left (poll_id=): its stories have all been yielded
