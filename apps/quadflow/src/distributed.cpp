// `--distributed mpi`: the only translation unit of the app that includes MPI (QUADFLOW_HAS_MPI).
#include "quadflow_app/distributed.hpp"

#include <cstdlib>

#include "quadflow/core/error.hpp"

#ifdef QUADFLOW_HAS_MPI
#include <mpi.h>

#include "quadflow/distributed/mpi.hpp"
#endif

namespace quadflow::app {

bool mpi_world::available() {
#ifdef QUADFLOW_HAS_MPI
    return true;
#else
    return false;
#endif
}

mpi_world& mpi_world::get() {
    static mpi_world world;
    return world;
}

mpi_world::mpi_world() {
#ifdef QUADFLOW_HAS_MPI
    int initialized = 0;
    MPI_Initialized(&initialized);
    if (!initialized) {
        int provided = 0;
        MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided);
        std::atexit([] {
            int finalized = 0;
            MPI_Finalized(&finalized);
            if (!finalized) MPI_Finalize();
        });
    }
    distributed::mpi_communicator comm(MPI_COMM_WORLD);
    rank_ = comm.rank();
    size_ = comm.size();
    exchange_ = distributed::make_exchange(comm);
#else
    throw invalid_argument("--distributed", "mpi",
                           "this quadflow was built without MPI (apt-get install libopenmpi-dev openmpi-bin, then "
                           "rebuild)");
#endif
}

}  // namespace quadflow::app
