/* A cheap fan-out load generator: COUNT subscriber connections in one epoll loop.
 *
 *   subscriber PORT COUNT HANDSHAKE_HEX MARKER STATES [PONG_HEX]
 *
 * Connects COUNT sockets to 127.0.0.1:PORT, sends HANDSHAKE (hex-encoded bytes) on each, waits
 * until each has answered with MARKER, prints "ready". Then counts state lines: every state
 * ends with "]}\n" and arrives on every socket in order, so the n-th end on a socket is state n.
 * When all COUNT sockets have state n it prints "n". At the end (all STATES everywhere, or 10 s
 * of silence) it prints "t n NS" with the latest CLOCK_MONOTONIC receive time of state n.
 * With PONG_HEX, data containing "ping" is answered with those bytes (tradewire closes
 * subscribers that stay silent for 3 heartbeats).
 * Cost per delivery: one recv and a scan of the bytes, no allocation.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static size_t unhex(const char *hex, unsigned char *out) {
    size_t n = strlen(hex) / 2;
    for (size_t i = 0; i < n; i++) sscanf(hex + 2 * i, "%2hhx", &out[i]);
    return n;
}

int main(int argc, char **argv) {
    if (argc != 6 && argc != 7) {
        fprintf(stderr, "usage: subscriber PORT COUNT HANDSHAKE_HEX MARKER STATES [PONG_HEX]\n");
        return 2;
    }
    int port = atoi(argv[1]), count = atoi(argv[2]), states = atoi(argv[5]);
    const char *marker = argv[4];
    unsigned char handshake[4096];
    size_t handshake_len = unhex(argv[3], handshake);
    unsigned char pong[256];
    size_t pong_len = argc == 7 ? unhex(argv[6], pong) : 0;
    int *fds = calloc(count, sizeof(int));
    int *got = calloc(count, sizeof(int));
    unsigned char (*tail)[2] = calloc(count, 2);
    int64_t *latest = calloc(states + 1, sizeof(int64_t));
    int *complete = calloc(states + 1, sizeof(int));
    static char buf[1 << 20];
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(port)};
    inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
    /* Handshakes in batches of 100: all sent, then each answer awaited (bounded pending
     * logins, and no connection waits long enough to be timed out). */
    for (int first = 0; first < count; first += 100) {
        int last = first + 100 < count ? first + 100 : count;
        for (int i = first; i < last; i++) {
            fds[i] = socket(AF_INET, SOCK_STREAM, 0);
            if (connect(fds[i], (struct sockaddr *)&addr, sizeof addr) != 0) {
                perror("connect");
                return 1;
            }
            if (send(fds[i], handshake, handshake_len, 0) != (ssize_t)handshake_len) {
                perror("send");
                return 1;
            }
        }
        for (int i = first; i < last; i++) {
            size_t seen = 0;
            char reply[8192];
            for (;;) {
                ssize_t r = recv(fds[i], reply + seen, sizeof reply - 1 - seen, 0);
                if (r <= 0) { fprintf(stderr, "handshake failed on socket %d\n", i); return 1; }
                seen += (size_t)r;
                reply[seen] = 0;
                if (memmem(reply, seen, marker, strlen(marker))) break;
                if (seen >= sizeof reply - 1) seen = 0;
            }
        }
    }
    int ep = epoll_create1(0);
    for (int i = 0; i < count; i++) {
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
        epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &ev);
    }
    printf("ready\n");
    fflush(stdout);
    int finished = 0, reported = 0;
    struct epoll_event events[512];
    while (finished < count) {
        int n = epoll_wait(ep, events, 512, 10000);
        if (n <= 0) break;
        int64_t at = now_ns();
        for (int e = 0; e < n; e++) {
            int i = (int)events[e].data.u32;
            ssize_t r = recv(fds[i], buf + 2, sizeof buf - 2, MSG_DONTWAIT);
            if (r <= 0) {
                if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
                    epoll_ctl(ep, EPOLL_CTL_DEL, fds[i], NULL);
                    finished++;
                }
                continue;
            }
            if (pong_len && memmem(buf + 2, (size_t)r, "\"ping\"", 6))
                send(fds[i], pong, pong_len, MSG_DONTWAIT);
            buf[0] = (char)tail[i][0];
            buf[1] = (char)tail[i][1];
            for (ssize_t k = 0; k + 2 < r + 2; k++) {
                if (buf[k] == ']' && buf[k + 1] == '}' && buf[k + 2] == '\n') {
                    int s = ++got[i];
                    if (s <= states) {
                        if (at > latest[s]) latest[s] = at;
                        if (++complete[s] == count) {
                            printf("%d\n", s);
                            reported = s;
                        }
                    }
                    if (s == states) finished++;
                }
            }
            tail[i][0] = (unsigned char)buf[r];
            tail[i][1] = (unsigned char)buf[r + 1];
        }
        if (reported) { fflush(stdout); reported = 0; }
    }
    for (int s = 1; s <= states; s++)
        if (latest[s]) printf("t %d %lld\n", s, (long long)latest[s]);
    printf("done\n");
    return 0;
}
