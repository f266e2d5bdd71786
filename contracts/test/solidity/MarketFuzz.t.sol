// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {ISurplusMarket} from "../../contracts/ISurplusMarket.sol";
import {MarketHandler} from "./MarketHandler.sol";

/// @notice Fuzzed whole lifecycles: random terms, signers, lazy Suppliers, the Customer's disputes
/// and results, settle attempts by others (alone or racing the Customer), Mediator verdicts or
/// silence, and timeouts. Each run must end Closed, with the market solvent to the wei, no violation
/// of conservation, finality or roles, and the issue-14 money invariants (honest Suppliers gain at
/// least P − F; lazy disputed Suppliers are never paid P by the Customer) — 10,000 runs.
contract MarketFuzzTest {
    MarketHandler internal handler;

    function setUp() public {
        handler = new MarketHandler();
    }

    function testFuzz_lifecycleClosesAndConserves(
        uint256 seed,
        uint256 signSeed,
        uint256 otherSeed,
        uint256 resultSeed,
        uint256 verdictSeed,
        uint16 lazy,
        uint8 path
    ) public {
        handler.open(seed);
        if (path & 1 != 0) handler.sign(0, signSeed);
        if (path & 2 != 0) handler.expire(0, 700); // past the signing deadline
        if (path & 4 != 0) handler.settleByOther(0, otherSeed);
        if (path & 8 != 0) handler.settle(0, resultSeed, true);
        if (path & 16 != 0) handler.outsiderActs(0, path);
        if (path & 32 != 0) handler.mediate(0, verdictSeed, lazy);
        // Whatever happened, repeated timeouts must close the allocation.
        for (uint256 i; i < 4 && handler.stateOf(0) != ISurplusMarket.State.Closed; ++i) {
            handler.expire(0, 7_999);
        }
        require(handler.stateOf(0) == ISurplusMarket.State.Closed, "allocation still open after every timeout");
        require(handler.totalEscrow() == 0, "a closed allocation still holds funds");
        uint256 held = handler.token().balanceOf(address(handler.market()));
        require(held == handler.owed(), "market balance != free balances");
        require(handler.violations() == 0, "a call broke conservation, finality or roles");
        require(handler.honestShortfalls() == 0, "an honest Supplier gained less than P - F");
        require(handler.lazyPaid() == 0, "a lazy disputed Supplier was paid P by the Customer");
    }

    /// @notice A happy lifecycle through the handler closes with every party paid (sanity check that
    /// the handler's calls succeed, so the fuzz campaigns exercise real transitions).
    function test_handlerDrivesAHappyLifecycle() public {
        handler.open((uint256(1) << 80) | 2); // three Suppliers, everybody signs
        require(handler.stateOf(0) == ISurplusMarket.State.Running, "open did not run");
        handler.settle(0, 0x77777701, true); // the right γ, no dispute, every result (no lazy Supplier in this seed)
        require(handler.stateOf(0) == ISurplusMarket.State.Closed, "settle did not close");
        require(handler.violations() == 0, "violation");
    }
}
