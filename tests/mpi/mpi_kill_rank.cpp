// A distributed sampling run in which rank 1 kills itself (SIGKILL) at step 2: mpirun must end the job with a
// non-zero exit instead of leaving the other ranks waiting in the exchange (tests/mpi/CMakeLists.txt runs it under a
// 30 s timeout).
#include <mpi.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <functional>

#include "distributed_fixtures.hpp"
#include "quadflow/distributed/mpi.hpp"
#include "quadflow/sampler/euler.hpp"

int main(int argc, char** argv) {
    MPI_Init(&argc, &argv);
    using namespace quadflow;
    distributed::mpi_communicator comm(MPI_COMM_WORLD);
    const tile::layout l = fixtures::test_layouts()[0];
    const fixtures::run_inputs in = fixtures::inputs_for(l);
    const int rank = comm.rank();
    const std::function<void(int)> die_at_step_2 = [rank](int step) {
        if (rank == 1 && step == 2) kill(getpid(), SIGKILL);
    };
    for (int round = 0; round < 1000; ++round)  // far longer than the 30 s allowed, had the job survived
        fixtures::sample_with<sampler::euler>(l, policy::scale{}, in, fixtures::uniform_from(1.0, 4),
                                              distributed::make_exchange(comm), die_at_step_2);
    std::puts("every round finished: rank 1 never died");
    MPI_Finalize();
    return 0;
}
