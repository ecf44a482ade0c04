/* headload: HTTP/1.1 HEAD load generator for bench/run.
 *
 * wrk 4.1 (Debian 12) waits for a body after a HEAD response that carries Content-Length, so it
 * cannot measure HEAD. This keeps C connections open (keep-alive), each with one HEAD request in
 * flight, on one thread with epoll, for S seconds, and prints
 *   requests N errors E rps R
 * A response counts when its headers end (\r\n\r\n) with status 200; anything else, or a closed
 * connection, is an error (the connection is reopened).
 *
 *   cc -O2 -o headload headload.c && ./headload 127.0.0.1 5000 /v2/repo/blobs/sha256:... 64 5
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

typedef struct {
  int fd;
  size_t sent;
  size_t got;
  char buf[8192];
} Conn;

static struct sockaddr_in addr;
static char req[2048];
static size_t req_len;
static int ep;

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int open_conn(Conn *c) {
  c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  if (c->fd < 0) return -1;
  int one = 1;
  setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (connect(c->fd, (struct sockaddr *)&addr, sizeof addr) < 0 && errno != EINPROGRESS) {
    close(c->fd);
    return -1;
  }
  c->sent = 0;
  c->got = 0;
  struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
  return epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
}

static void reopen(Conn *c) {
  epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
  close(c->fd);
  if (open_conn(c) < 0) {
    perror("connect");
    exit(1);
  }
}

static void want(Conn *c, unsigned events) {
  struct epoll_event ev = {.events = events, .data.ptr = c};
  epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
}

int main(int argc, char **argv) {
  if (argc != 6) {
    fprintf(stderr, "usage: %s HOST PORT PATH CONNS SECONDS\n", argv[0]);
    return 2;
  }
  addr.sin_family = AF_INET;
  addr.sin_port = htons((unsigned short)atoi(argv[2]));
  if (inet_pton(AF_INET, argv[1], &addr.sin_addr) != 1) {
    fprintf(stderr, "bad address %s\n", argv[1]);
    return 2;
  }
  int n = atoi(argv[4]);
  double secs = atof(argv[5]);
  req_len = (size_t)snprintf(req, sizeof req,
                             "HEAD %s HTTP/1.1\r\nHost: %s:%s\r\nUser-Agent: headload\r\n\r\n",
                             argv[3], argv[1], argv[2]);
  ep = epoll_create1(0);
  Conn *conns = calloc((size_t)n, sizeof *conns);
  for (int i = 0; i < n; i++) {
    if (open_conn(&conns[i]) < 0) {
      perror("connect");
      return 1;
    }
  }
  long ok = 0, errors = 0;
  struct epoll_event evs[256];
  double start = now(), end = start + secs;
  while (now() < end) {
    int k = epoll_wait(ep, evs, 256, 100);
    for (int i = 0; i < k; i++) {
      Conn *c = evs[i].data.ptr;
      if (evs[i].events & (EPOLLERR | EPOLLHUP)) {
        errors++;
        reopen(c);
        continue;
      }
      if ((evs[i].events & EPOLLOUT) && c->sent < req_len) {
        ssize_t w = write(c->fd, req + c->sent, req_len - c->sent);
        if (w < 0 && errno != EAGAIN) {
          errors++;
          reopen(c);
          continue;
        }
        if (w > 0) c->sent += (size_t)w;
        if (c->sent == req_len) want(c, EPOLLIN);
      }
      if (evs[i].events & EPOLLIN) {
        ssize_t r = read(c->fd, c->buf + c->got, sizeof c->buf - 1 - c->got);
        if (r <= 0) {
          if (r < 0 && errno == EAGAIN) continue;
          errors++;
          reopen(c);
          continue;
        }
        c->got += (size_t)r;
        c->buf[c->got] = 0;
        if (strstr(c->buf, "\r\n\r\n") == NULL) {
          if (c->got == sizeof c->buf - 1) {
            errors++;
            reopen(c);
          }
          continue;
        }
        if (strncmp(c->buf, "HTTP/1.1 200", 12) == 0 || strncmp(c->buf, "HTTP/1.0 200", 12) == 0) {
          ok++;
        } else {
          errors++;
        }
        c->got = 0;
        c->sent = 0;
        want(c, EPOLLOUT);
      }
    }
  }
  double took = now() - start;
  printf("requests %ld errors %ld rps %.1f\n", ok, errors, ok / took);
  return 0;
}
