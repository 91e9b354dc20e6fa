/* sb-hello: the trivial child of the spawn-rate benchmark. Writes one short
 * line to its stdout (the client, directly or through switchboard's pipes)
 * and exits. Linked statically so exec costs the same under every server and
 * the figure measures the servers, not the dynamic loader. */
#include <unistd.h>

int main(void) {
    static const char line[] = "hello\n";
    return write(STDOUT_FILENO, line, sizeof line - 1) == (ssize_t)(sizeof line - 1) ? 0 : 1;
}
