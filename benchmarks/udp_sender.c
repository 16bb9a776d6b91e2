/* Offer RATE tick datagrams per second ("EURUSD 1.10xxx\0", the article's form) to
 * 127.0.0.1:PORT for SECONDS, with sendmmsg in batches of 64, paced every half millisecond.
 * Cheap enough that the sender, not the receiver, is never what limits the rate.
 *
 *   udp_sender PORT RATE SECONDS
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: udp_sender PORT RATE SECONDS\n");
        return 2;
    }
    int port = atoi(argv[1]);
    double rate = atof(argv[2]), seconds = atof(argv[3]);
    long total = (long)(rate * seconds), sent = 0;
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    int sndbuf = 8 << 20;
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(port)};
    inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) { perror("connect"); return 1; }
    enum { BATCH = 64 };
    char payloads[BATCH][32];
    struct iovec iov[BATCH];
    struct mmsghdr msgs[BATCH];
    memset(msgs, 0, sizeof msgs);
    for (int i = 0; i < BATCH; i++) {
        int len = snprintf(payloads[i], sizeof payloads[i], "EURUSD %.5f", 1.1 + i * 1e-5);
        iov[i].iov_base = payloads[i];
        iov[i].iov_len = (size_t)len + 1; /* with the NUL StringToCharArray adds */
        msgs[i].msg_hdr.msg_iov = &iov[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
    }
    double start = now_s();
    while (sent < total) {
        long due = (long)((now_s() - start) * rate) + BATCH;
        if (due > total) due = total;
        while (sent < due) {
            int n = (int)(due - sent < BATCH ? due - sent : BATCH);
            int done = sendmmsg(fd, msgs, (unsigned)n, 0);
            if (done > 0) sent += done;
        }
        struct timespec pause = {0, 500000};
        nanosleep(&pause, NULL);
    }
    printf("%ld\n", sent);
    return 0;
}
