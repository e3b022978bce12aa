// The simulated board: the board top (spikeforge.boards.top.BoardLink, Verilog
// module "board_top") in Verilator, its UART pins driven by a UART model whose
// other end is a pseudo-terminal, so the host driver opens it with pyserial like
// a real board's serial port. Everything except the cable.
//
//   board_harness --divisor D [--max-cycles C]
//
// Prints the pty's path on the first line of stdout, then runs until stdin
// reaches end of file (the Python side closes it or exits). UART: 8N1,
// D clocks per bit, bytes from the pty are sent back to back.
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fcntl.h>
#include <poll.h>
#include <string>
#include <termios.h>
#include <unistd.h>
#include <vector>

#include "Vharness_top.h"
#include "verilated.h"

static Vharness_top *top;
static uint64_t cycles = 0;

static void fail(const std::string &msg) {
    std::fprintf(stderr, "board_harness: %s\n", msg.c_str());
    std::exit(2);
}

static void tick() {
    top->clk = 0;
    top->eval();
    top->clk = 1;
    top->eval();
    cycles++;
}

int main(int argc, char **argv) {
    uint64_t divisor = 0, max_cycles = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        std::string opt = argv[i];
        if (opt == "--divisor") divisor = std::strtoull(argv[i + 1], nullptr, 10);
        else if (opt == "--max-cycles") max_cycles = std::strtoull(argv[i + 1], nullptr, 10);
        else fail("unknown option " + opt);
    }
    if (divisor < 4) fail("--divisor must be at least 4");

    int master = posix_openpt(O_RDWR | O_NOCTTY);
    if (master < 0 || grantpt(master) || unlockpt(master)) fail("cannot open a pseudo-terminal");
    const char *slave_name = ptsname(master);
    if (!slave_name) fail("ptsname failed");
    // Keep the slave open ourselves (raw), so the master never sees a hang-up
    // between the host's open and close.
    int slave = open(slave_name, O_RDWR | O_NOCTTY);
    if (slave < 0) fail("cannot open the pty slave");
    struct termios tio;
    tcgetattr(slave, &tio);
    cfmakeraw(&tio);
    tcsetattr(slave, TCSANOW, &tio);
    fcntl(master, F_SETFL, fcntl(master, F_GETFL) | O_NONBLOCK);
    std::printf("%s\n", slave_name);
    std::fflush(stdout);

    Verilated::commandArgs(argc, argv);
    top = new Vharness_top;
    top->rx = 1;
    top->rst = 1;
    tick();
    tick();
    top->rst = 0;

    std::deque<uint8_t> to_board;        // bytes from the host, not yet on rx
    std::vector<uint8_t> to_host;        // bytes from tx, not yet written to the pty
    // rx driver: 10 bits per byte
    int rx_bit = -1;                     // -1 idle, 0 start, 1..8 data, 9 stop
    uint64_t rx_timer = 0;
    uint8_t rx_byte = 0;
    // tx monitor
    int tx_bit = -1;
    uint64_t tx_timer = 0;
    uint8_t tx_byte = 0;
    uint64_t quiet = 0;
    bool stdin_open = true;
    uint8_t buf[4096];

    while (stdin_open) {
        if (max_cycles && cycles > max_cycles) fail("--max-cycles reached");
        // every 256 cycles: exchange bytes with the pty and check stdin
        if ((cycles & 255) == 0) {
            if (!to_host.empty()) {
                ssize_t n = write(master, to_host.data(), to_host.size());
                if (n > 0) to_host.erase(to_host.begin(), to_host.begin() + n);
            }
            if (to_board.size() < 65536) {
                ssize_t n = read(master, buf, sizeof buf);
                if (n > 0) {
                    to_board.insert(to_board.end(), buf, buf + n);
                    quiet = 0;
                }
            }
            bool idle = to_board.empty() && rx_bit < 0 && tx_bit < 0 && to_host.empty();
            // after a long quiet spell, wait for the host instead of spinning
            int timeout = (idle && quiet > 2000000) ? 2 : 0;
            struct pollfd fds[2] = {{0, POLLIN, 0}, {master, POLLIN, 0}};
            if (poll(fds, 2, timeout) > 0 && (fds[0].revents & (POLLIN | POLLHUP))) {
                ssize_t n = read(0, buf, sizeof buf);
                if (n <= 0) stdin_open = false;
            }
        }
        // UART into the board (rx pin)
        if (rx_bit < 0 && !to_board.empty()) {
            rx_byte = to_board.front();
            to_board.pop_front();
            rx_bit = 0;
            rx_timer = divisor;
        }
        if (rx_bit < 0) top->rx = 1;
        else if (rx_bit == 0) top->rx = 0;
        else if (rx_bit <= 8) top->rx = (rx_byte >> (rx_bit - 1)) & 1;
        else top->rx = 1;
        tick();
        quiet++;
        if (rx_bit >= 0 && --rx_timer == 0) {
            rx_timer = divisor;
            if (++rx_bit > 9) rx_bit = -1;
        }
        // UART out of the board (tx pin), sampled mid-bit
        if (tx_bit < 0) {
            if (!top->tx) {
                tx_bit = 0;
                tx_timer = divisor / 2;
            }
        } else if (--tx_timer == 0) {
            tx_timer = divisor;
            if (tx_bit == 0) {
                if (top->tx) tx_bit = -1;    // glitch, not a start bit
                else tx_bit = 1;
            } else if (tx_bit <= 8) {
                tx_byte = (tx_byte >> 1) | (top->tx ? 0x80 : 0);
                tx_bit++;
            } else {
                if (top->tx) to_host.push_back(tx_byte);
                else std::fprintf(stderr, "board_harness: framing error on tx\n");
                tx_bit = -1;
                quiet = 0;
            }
        }
    }
    top->final();
    delete top;
    close(slave);
    close(master);
    return 0;
}
