-- wrk script: POST /tag with one short sentence (7 tokens, the README's example).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"texts": ["U.N. official Ekeus heads for Baghdad."]}'
