// Histogram: a Prometheus-style histogram with fixed upper bounds, kept per
// service in ServiceCounters (connection durations, spawn latencies) and
// rendered by control/metrics.cpp. The bounds are part of the interface:
// README "Control and observability" lists them.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace sb::server {

// Connection duration, accept to close, in seconds.
inline constexpr std::array<double, 12> k_duration_bounds{0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 1800};
// Spawn latency, accept to the child running, in seconds.
inline constexpr std::array<double, 11> k_spawn_bounds{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                        0.05,   0.1,   0.25,   0.5,   1};

template <std::size_t N>
struct Histogram {
    const std::array<double, N>* bounds = nullptr;
    std::array<std::uint64_t, N> in_bucket{};  // observations in (bounds[i-1], bounds[i]]
    std::uint64_t count = 0;                   // every observation, those above the last bound too
    double sum = 0;

    explicit Histogram(const std::array<double, N>& b) : bounds(&b) {}

    void observe(double value) {
        ++count;
        sum += value;
        for (std::size_t i = 0; i < N; ++i) {
            if (value <= (*bounds)[i]) {
                ++in_bucket[i];
                return;
            }
        }
    }
};

}  // namespace sb::server
