"""Subscriptions, digests pushed after every publish, and outcome feedback (issue 16).

- ``subscriptions``: what a subscription is, validated (channels, webhook addresses);
- ``store``: :class:`PushStore`, the repository over the ``push_*`` tables;
- ``feedback``: the outcome states and their allowed transitions;
- ``digest``: which never-delivered matches each due subscription gets (via matcher/);
- ``channels/``: webhook (signed JSON), e-mail (SMTP), file (XLSX + HTML in the outbox);
- ``dispatcher``: compute + send outside the publish path, retries, dead letters;
- ``tokens``: the per-item feedback token;
- ``stats``: pushes and the outcome funnel for reports.
"""
