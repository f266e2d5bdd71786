// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {MarketHandler} from "./MarketHandler.sol";

/// @notice Handler-based invariant tests of the market (Solady WETH.t.sol style): after any
/// sequence of calls by the parties and an outsider, the market is solvent to the wei, every
/// allocation conserved its funds, none settled twice, and only named parties acted or were paid.
contract MarketInvariantsTest {
    MarketHandler internal handler;

    function setUp() public {
        handler = new MarketHandler();
    }

    /// @dev Only the handler is called by the invariant fuzzer.
    function targetContracts() public view returns (address[] memory targets) {
        targets = new address[](1);
        targets[0] = address(handler);
    }

    /// @notice token.balanceOf(market) == Σ free balances + Σ locked per allocation.
    function invariant_solvent() public view {
        uint256 held = handler.token().balanceOf(address(handler.market()));
        require(held == handler.owed() + handler.totalEscrow(), "market balance != free + locked");
    }

    /// @notice The hostile token's market never owes more than it holds.
    function invariant_feeTokenSolvent() public view {
        require(
            handler.feeToken().balanceOf(address(handler.feeMarket())) >= handler.feeOwed(), "fee market owes more"
        );
    }

    /// @notice An honest Supplier (every live output right, its result signed) never ends an
    /// allocation with less than P − F gained, whatever the Customer, the others and the Mediator do.
    /// forge-config: default.invariant.runs = 10000
    /// forge-config: default.invariant.depth = 12
    function invariant_honestSupplierGainsPMinusF() public view {
        require(handler.honestShortfalls() == 0, "an honest Supplier gained less than P - F");
    }

    /// @notice A Supplier that skipped a test input the Customer disputed is never paid P by the Customer.
    /// forge-config: default.invariant.runs = 10000
    /// forge-config: default.invariant.depth = 12
    function invariant_lazyDisputedSupplierNeverPaidP() public view {
        require(handler.lazyPaid() == 0, "a lazy disputed Supplier was paid P");
    }

    /// @notice Per allocation, money in == money out; no allocation closed twice; no outsider ever
    /// acted or was paid (checked by the handler after every call).
    function invariant_noViolation() public view {
        require(handler.violations() == 0, "a call broke conservation, finality or roles");
    }
}
