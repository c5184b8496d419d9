"""gunicorn settings read from the working directory (the Procfile and the benchmarks start gunicorn here).

Access lines carry the path without the query string: staff search is a GET, and its query can hold
a consumer's full phone or ID number, which must not end up in a server log. Access logging itself
stays off unless asked for (`--access-logfile -`).
"""

access_log_format = '%(h)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(M)sms'
