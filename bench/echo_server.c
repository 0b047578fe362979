/*
 * A fixed, fast stdio MCP server for benchmarks: it answers initialize, tools/list, an echo
 * tools/call, and a "flood" tools/call that streams a given number of bytes as log
 * notifications first. It does the least possible work per message, so the figures measure
 * the bridge in front of it, not the server.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *find_value(const char *line, const char *key, int *length) {
    const char *at = strstr(line, key);
    if (!at) return NULL;
    at += strlen(key);
    const char *end = at;
    if (*end == '"') {
        end++;
        while (*end && *end != '"') end += (*end == '\\' && end[1]) ? 2 : 1;
        end++;
    } else {
        while (*end && *end != ',' && *end != '}') end++;
    }
    *length = (int)(end - at);
    return at;
}

int main(void) {
    static char out[1 << 16];
    setvbuf(stdout, out, _IOFBF, sizeof out);
    char *line = NULL;
    size_t capacity = 0;
    static char chunk[65536];
    memset(chunk, 'z', sizeof chunk - 1);
    chunk[sizeof chunk - 1] = 0;
    while (getline(&line, &capacity, stdin) > 0) {
        int id_length = 0;
        const char *id = find_value(line, "\"id\":", &id_length);
        if (!id || strstr(line, "\"result\"") || strstr(line, "\"error\"")) continue; /* notification or response */
        if (strstr(line, "\"method\":\"initialize\"")) {
            printf("{\"jsonrpc\":\"2.0\",\"id\":%.*s,\"result\":{\"protocolVersion\":\"2025-06-18\","
                   "\"capabilities\":{\"tools\":{}},\"serverInfo\":{\"name\":\"bench-echo\",\"version\":\"1.0\"}}}\n",
                   id_length, id);
        } else if (strstr(line, "\"method\":\"tools/list\"")) {
            printf("{\"jsonrpc\":\"2.0\",\"id\":%.*s,\"result\":{\"tools\":["
                   "{\"name\":\"echo\",\"inputSchema\":{\"type\":\"object\",\"properties\":{\"text\":{\"type\":\"string\"}}}},"
                   "{\"name\":\"flood\",\"inputSchema\":{\"type\":\"object\",\"properties\":{\"bytes\":{\"type\":\"integer\"}}}}]}}\n",
                   id_length, id);
        } else if (strstr(line, "\"method\":\"tools/call\"") && strstr(line, "\"name\":\"flood\"")) {
            int length = 0;
            const char *bytes = find_value(line, "\"bytes\":", &length);
            long remaining = bytes ? atol(bytes) : 0;
            long sent = 0;
            while (remaining > 0) {
                long piece = remaining < (long)sizeof chunk - 1 ? remaining : (long)sizeof chunk - 1;
                printf("{\"jsonrpc\":\"2.0\",\"method\":\"notifications/message\",\"params\":{\"level\":\"info\",\"data\":\"%.*s\"}}\n",
                       (int)piece, chunk);
                remaining -= piece;
                sent += piece;
            }
            printf("{\"jsonrpc\":\"2.0\",\"id\":%.*s,\"result\":{\"content\":[{\"type\":\"text\",\"text\":\"%ld\"}]}}\n",
                   id_length, id, sent);
        } else if (strstr(line, "\"method\":\"tools/call\"")) {
            int length = 0;
            const char *text = find_value(line, "\"text\":", &length);
            printf("{\"jsonrpc\":\"2.0\",\"id\":%.*s,\"result\":{\"content\":[{\"type\":\"text\",\"text\":%.*s}]}}\n",
                   id_length, id, length, text ? text : "\"\"");
        } else {
            printf("{\"jsonrpc\":\"2.0\",\"id\":%.*s,\"result\":{}}\n", id_length, id);
        }
        fflush(stdout);
    }
    return 0;
}
