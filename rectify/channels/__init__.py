"""IM and SMS beside mail (issue 16): 企业微信 and 钉钉 application messages, their group robots, and an SMS
gateway. Mail stays the channel of record; these rows live in the same outbox with the same guarantees.

settings  - `[channels]` in rectify.toml
render    - the short IM card and the one SMS line, from templates/channels/
enqueue   - one outbox row per (recipient, day, kind, channel), in the daily run's transaction
vendors   - async adapters over the vendors' documented APIs (docs/channels.md)
http/lean - every vendor request on a lean HTTP/1.1 keep-alive client; httpx only where it would not do
claims    - the outbox's compare-and-set for one channel's rows, on a plain connection
dispatch  - claims the channel rows, sends them, marks them; quiet hours, retries, a channel down
"""
