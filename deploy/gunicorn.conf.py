"""gunicorn settings for the API in production: workers from the CPU count, bounded requests, JSON access logs."""

import multiprocessing
import os

bind = os.environ.get("EGOV_BIND", "0.0.0.0:8080")
workers = int(os.environ.get("EGOV_WORKERS", multiprocessing.cpu_count() * 2 + 1))
threads = int(os.environ.get("EGOV_THREADS", "4"))
worker_class = "gthread"
timeout = 60
graceful_timeout = 30
keepalive = 5
max_requests = 10000
max_requests_jitter = 1000
limit_request_line = 8190
forwarded_allow_ips = os.environ.get("EGOV_FORWARDED_ALLOW_IPS", "127.0.0.1")
accesslog = "-"
# No query strings or headers in the access log: tokens and codes travel there.
access_log_format = '{"remote":"%(h)s","method":"%(m)s","path":"%(U)s","status":%(s)s,"bytes":%(B)s,"ms":%(M)s}'
