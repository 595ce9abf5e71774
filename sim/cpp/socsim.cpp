// (Verilator spells the Amaranth port "rx__valid" as "rx___05Fvalid".)
// sgdma sim: the SoC under Verilator, serving the bridge's wire protocol on a TCP port.
//
// The bytes on the socket are exactly what a board's serial port carries.  The link is
// paced like a serial line: at most one byte per --cycles-per-byte clock cycles in each
// direction.  No Python runs per cycle.  While the SoC is idle (bridge and DMA quiet) and the
// host sends nothing, simulated time stands still: the process sleeps in poll().
#include "Vtop.h"
#include "verilated.h"

#include <arpa/inet.h>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <string>
#include <sys/socket.h>
#include <unistd.h>
#include <vector>

static volatile sig_atomic_t g_stop = 0;
static void on_signal(int) { g_stop = 1; }

static void usage() {
    std::fprintf(stderr, "usage: socsim [--port N] [--cycles-per-byte N] [--once] [--max-cycles N]\n");
    std::exit(2);
}

int main(int argc, char **argv) {
    int port = 0, cpb = 2;
    bool once = false;
    unsigned long long max_cycles = 0;
    for (int i = 1; i < argc; i++) {
        std::string a = argv[i];
        if (a == "--port" && i + 1 < argc) port = std::atoi(argv[++i]);
        else if (a == "--cycles-per-byte" && i + 1 < argc) cpb = std::atoi(argv[++i]);
        else if (a == "--once") once = true;
        else if (a == "--max-cycles" && i + 1 < argc) max_cycles = std::strtoull(argv[++i], nullptr, 0);
        else usage();
    }
    if (cpb < 1 || port < 0 || port > 65535) usage();
    struct sigaction sa {};
    sa.sa_handler = on_signal;          // no SA_RESTART: a signal ends a blocking accept()/poll()
    sigaction(SIGTERM, &sa, nullptr);
    sigaction(SIGINT, &sa, nullptr);
    std::signal(SIGPIPE, SIG_IGN);

    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(port);
    if (bind(lfd, (sockaddr *)&addr, sizeof addr) < 0 || listen(lfd, 1) < 0) {
        std::fprintf(stderr, "socsim: cannot listen on 127.0.0.1:%d: %s\n", port, std::strerror(errno));
        return 1;
    }
    socklen_t len = sizeof addr;
    getsockname(lfd, (sockaddr *)&addr, &len);
    std::printf("sgdma sim listening on 127.0.0.1:%d\n", ntohs(addr.sin_port));
    std::fflush(stdout);

    VerilatedContext ctx;
    Vtop top{&ctx};
    top.clk = 0;
    top.rst = 1;
    top.rx___05Fvalid = 0;
    top.tx___05Fready = 0;
    for (int i = 0; i < 8; i++) {
        top.clk = 0; top.eval();
        top.clk = 1; top.eval();
    }
    top.rst = 0;

    std::deque<unsigned char> inq;
    std::vector<unsigned char> outq;
    unsigned long long cycles = 0, bytes_in = 0, bytes_out = 0;
    double busy_seconds = 0;
    unsigned long long busy_cycles = 0;
    int rx_wait = 0, tx_wait = 0;
    const int BATCH = 512;
    unsigned char buf[65536];

    while (!g_stop) {
        int fd = accept(lfd, nullptr, nullptr);
        if (fd < 0) {
            if (errno == EINTR) continue;
            std::perror("socsim: accept");
            return 1;
        }
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        fcntl(fd, F_SETFL, O_NONBLOCK);
        bool open = true;
        while (open && !g_stop) {
            auto t0 = std::chrono::steady_clock::now();
            // run until the batch ends, or at once when the SoC has gone quiet with nothing
            // more to feed it (an answer is complete: send it without waiting out the batch)
            for (int i = 0; i < BATCH; i++) {
                top.rx___05Fvalid = !inq.empty() && rx_wait == 0;
                top.rx___05Fpayload = inq.empty() ? 0 : inq.front();
                top.tx___05Fready = tx_wait == 0;
                top.clk = 0;
                top.eval();
                bool rx_take = top.rx___05Fvalid && top.rx___05Fready;
                bool tx_take = top.tx___05Fvalid && top.tx___05Fready;
                if (tx_take) { outq.push_back(top.tx___05Fpayload); tx_wait = cpb - 1; bytes_out++; }
                else if (tx_wait) tx_wait--;
                if (rx_take) { inq.pop_front(); rx_wait = cpb - 1; bytes_in++; }
                else if (rx_wait) rx_wait--;
                top.clk = 1;
                top.eval();
                cycles++;
                if (!top.busy && inq.empty() && !top.tx___05Fvalid) break;
            }
            bool busy = top.busy;
            if (busy) {
                busy_cycles += BATCH;   // (a whole batch: the loop only ends early when idle)
                busy_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
            }
            if (max_cycles && cycles >= max_cycles) { g_stop = 1; break; }
            // flush responses
            size_t sent = 0;
            while (sent < outq.size()) {
                ssize_t n = send(fd, outq.data() + sent, outq.size() - sent, 0);
                if (n > 0) { sent += n; continue; }
                if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                    pollfd p{fd, POLLOUT, 0};
                    poll(&p, 1, 100);
                    continue;
                }
                open = false;
                break;
            }
            outq.clear();
            // take requests; sleep while nothing can happen
            bool idle = inq.empty() && !busy && !top.tx___05Fvalid;
            pollfd p{fd, POLLIN, 0};
            if (inq.size() < (1u << 20) && poll(&p, 1, idle ? 200 : 0) > 0) {
                ssize_t n = recv(fd, buf, sizeof buf, 0);
                if (n > 0) inq.insert(inq.end(), buf, buf + n);
                else if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) open = false;
            }
        }
        close(fd);
        inq.clear();
        if (once) break;
    }
    std::fprintf(stderr, "socsim: %llu cycles, %llu bytes in, %llu bytes out; %.0f cycles/s while busy\n",
                 cycles, bytes_in, bytes_out, busy_seconds > 0 ? busy_cycles / busy_seconds : 0.0);
    top.final();
    return 0;
}
