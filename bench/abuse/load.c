/* load: the client side of bench/abuse/run — many HTTP/1.1 connections from many loopback
 * source addresses (127.0.0.F, 127.0.0.F+1, ... round robin), on one thread with epoll.
 *
 *   load get   PORT HOST PATH HEADER CONNS SECONDS FIRST COUNT
 *       keep-alive GETs, one in flight per connection, for SECONDS
 *   load total PORT HOST PATH HEADER CONNS TOTAL FIRST COUNT
 *       the same until TOTAL responses have come back (or 300 s)
 *   load idle  PORT CONNS SECONDS FIRST COUNT
 *       opens CONNS connections that send nothing and holds them for SECONDS
 *
 * HEADER is one extra request header line ("Authorization: Basic ...") or "-" for none.
 * get/total print one line:
 *   requests N errors E rps R ms_p50 P ms_p99 Q s200 A s401 B s429 C s503 D other O closed X
 * where errors counts every response other than 200 and every connection the server closed
 * or refused (it is then reopened). idle prints: held H of N closed X failed F
 *
 *   cc -O2 -o load load.c
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

typedef struct {
  int fd;
  int src;
  size_t sent;
  size_t head_len;
  long long body_left; /* -1: still reading the head */
  double started;
  int open;
  char head[16384];
} Conn;

static int port, first_src, src_count, ep;
static char req[4096];
static size_t req_len;
static long long requests, errors, closed_count, s200, s401, s429, s503, other;
static long long hist[10001]; /* latency in ms */

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int open_conn(Conn *c, unsigned events) {
  c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  if (c->fd < 0) return -1;
  int one = 1;
  setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  struct sockaddr_in from = {.sin_family = AF_INET};
  char ip[32];
  snprintf(ip, sizeof ip, "127.0.0.%d", first_src + c->src % src_count);
  inet_pton(AF_INET, ip, &from.sin_addr);
  if (bind(c->fd, (struct sockaddr *)&from, sizeof from) < 0) {
    close(c->fd);
    return -1;
  }
  struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(port)};
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(c->fd, (struct sockaddr *)&to, sizeof to) < 0 && errno != EINPROGRESS) {
    close(c->fd);
    return -1;
  }
  c->sent = 0;
  c->head_len = 0;
  c->body_left = -1;
  c->started = now();
  c->open = 1;
  struct epoll_event ev = {.events = events, .data.ptr = c};
  return epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
}

static void drop(Conn *c) {
  epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
  close(c->fd);
  c->open = 0;
}

static void reopen(Conn *c) {
  drop(c);
  ++closed_count;
  ++errors;
  open_conn(c, EPOLLIN | EPOLLOUT);
}

static void record(int status, double started) {
  ++requests;
  long ms = (long)((now() - started) * 1000);
  hist[ms > 10000 ? 10000 : ms]++;
  if (status == 200) ++s200;
  else {
    ++errors;
    if (status == 401) ++s401;
    else if (status == 429) ++s429;
    else if (status == 503) ++s503;
    else ++other;
  }
}

static long percentile(double p) {
  long long total = 0, seen = 0;
  for (int i = 0; i <= 10000; ++i) total += hist[i];
  for (int i = 0; i <= 10000; ++i) {
    seen += hist[i];
    if (total && seen >= p * total) return i;
  }
  return 0;
}

/* Consumes what arrived; returns 0 when the connection must be reopened. */
static int on_readable(Conn *c) {
  char buf[262144];
  for (;;) {
    ssize_t n = recv(c->fd, buf, sizeof buf, 0);
    if (n == 0) return 0;
    if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK;
    size_t off = 0;
    while (off < (size_t)n) {
      if (c->body_left < 0) {
        size_t take = (size_t)n - off;
        if (take > sizeof c->head - 1 - c->head_len) take = sizeof c->head - 1 - c->head_len;
        if (take == 0) return 0; /* head too large */
        memcpy(c->head + c->head_len, buf + off, take);
        c->head_len += take;
        c->head[c->head_len] = 0;
        char *end = strstr(c->head, "\r\n\r\n");
        if (!end) {
          off += take;
          continue;
        }
        size_t head_size = (size_t)(end - c->head) + 4;
        size_t extra = c->head_len - head_size; /* body bytes already in head[] */
        off += take - extra;
        long long length = 0;
        char *cl = strcasestr(c->head, "\r\ncontent-length:");
        if (cl && cl < end) length = atoll(cl + 17);
        c->body_left = length;
        c->head_len = head_size;
        int status = atoi(c->head + 9);
        if (c->body_left == 0) {
          record(status, c->started);
          c->body_left = -1;
          c->head_len = 0;
          if (strcasestr(c->head, "\r\nconnection: close")) return 0;
          c->sent = 0;
          c->started = now();
          struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
          epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
        } else {
          c->head[head_size] = 0;
          c->head[12] = 0; /* keep the status line for record() */
        }
      } else {
        size_t take = (size_t)n - off;
        if ((long long)take > c->body_left) take = (size_t)c->body_left;
        c->body_left -= (long long)take;
        off += take;
        if (c->body_left == 0) {
          record(atoi(c->head + 9), c->started);
          c->body_left = -1;
          c->head_len = 0;
          c->sent = 0;
          c->started = now();
          struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
          epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
        }
      }
    }
  }
}

static void on_writable(Conn *c) {
  while (c->sent < req_len) {
    ssize_t n = send(c->fd, req + c->sent, req_len - c->sent, MSG_NOSIGNAL);
    if (n <= 0) return;
    c->sent += (size_t)n;
  }
  struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
  epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
}

static int run_requests(int conns, double seconds, long long total) {
  Conn *cs = calloc((size_t)conns, sizeof(Conn));
  for (int i = 0; i < conns; ++i) {
    cs[i].src = i;
    if (open_conn(&cs[i], EPOLLIN | EPOLLOUT) < 0) ++errors;
  }
  struct epoll_event evs[256];
  double start = now(), until = start + seconds;
  while (now() < until && (total <= 0 || requests < total)) {
    int n = epoll_wait(ep, evs, 256, 100);
    for (int i = 0; i < n; ++i) {
      Conn *c = evs[i].data.ptr;
      if (evs[i].events & (EPOLLERR | EPOLLHUP)) {
        reopen(c);
        continue;
      }
      if ((evs[i].events & EPOLLIN) && !on_readable(c)) {
        reopen(c);
        continue;
      }
      if (evs[i].events & EPOLLOUT) on_writable(c);
    }
  }
  double elapsed = now() - start;
  printf("requests %lld errors %lld rps %.0f ms_p50 %ld ms_p99 %ld s200 %lld s401 %lld s429 %lld "
         "s503 %lld other %lld closed %lld seconds %.2f\n",
         requests, errors, requests / elapsed, percentile(0.5), percentile(0.99), s200, s401, s429,
         s503, other, closed_count, elapsed);
  return 0;
}

static int run_idle(int conns, double seconds) {
  Conn *cs = calloc((size_t)conns, sizeof(Conn));
  long long failed = 0;
  for (int i = 0; i < conns; ++i) {
    cs[i].src = i;
    if (open_conn(&cs[i], EPOLLIN | EPOLLRDHUP) < 0) {
      ++failed;
      cs[i].open = 0;
    }
  }
  struct epoll_event evs[256];
  double until = now() + seconds;
  while (now() < until) {
    int n = epoll_wait(ep, evs, 256, 100);
    for (int i = 0; i < n; ++i) {
      Conn *c = evs[i].data.ptr;
      drop(c); /* anything readable on an idle connection is the server closing it */
      ++closed_count;
    }
  }
  long long held = 0;
  for (int i = 0; i < conns; ++i) held += cs[i].open;
  printf("held %lld of %d closed %lld failed %lld\n", held, conns, closed_count, failed);
  return 0;
}

int main(int argc, char **argv) {
  ep = epoll_create1(0);
  if (argc == 7 && !strcmp(argv[1], "idle")) {
    port = atoi(argv[2]);
    first_src = atoi(argv[5]);
    src_count = atoi(argv[6]);
    return run_idle(atoi(argv[3]), atof(argv[4]));
  }
  if (argc != 10 || (strcmp(argv[1], "get") && strcmp(argv[1], "total"))) {
    fprintf(stderr, "usage: see the top of load.c\n");
    return 2;
  }
  port = atoi(argv[2]);
  first_src = atoi(argv[8]);
  src_count = atoi(argv[9]);
  int extra = strcmp(argv[5], "-") != 0;
  req_len = (size_t)snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: %s\r\n%s%s\r\n", argv[4],
                             argv[3], extra ? argv[5] : "", extra ? "\r\n" : "");
  int conns = atoi(argv[6]);
  if (!strcmp(argv[1], "get")) return run_requests(conns, atof(argv[7]), 0);
  return run_requests(conns, 300, atoll(argv[7]));
}
