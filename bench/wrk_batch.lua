-- wrk script: POST /tag with 8 newswire texts of 28 tokens each (224 tokens; written for this bench).
local text = "The European Commission said on Thursday it disagreed with German advice to consumers to shun British lamb until scientists determine whether mad cow disease can be transmitted."
local texts = {}
for i = 1, 8 do texts[i] = '"' .. text .. '"' end
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"texts": [' .. table.concat(texts, ", ") .. ']}'
