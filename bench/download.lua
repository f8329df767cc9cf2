-- wrk: GET the 10 MiB /download.
wrk.path = "/download"
